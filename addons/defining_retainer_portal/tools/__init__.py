from . import topup
from . import params
