from . import portal
from . import mail
from . import topup
from . import audit
