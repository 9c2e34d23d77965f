from . import statement
from . import topup
