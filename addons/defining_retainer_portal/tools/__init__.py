from . import topup
