from . import forecast
from . import statement
from . import topup
