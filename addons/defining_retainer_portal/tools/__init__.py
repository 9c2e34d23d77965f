from . import forecast
from . import topup
