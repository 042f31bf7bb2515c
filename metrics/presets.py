"""Named metric sets (``--preset NAME`` on ``run`` and ``evaluate``)."""
from fusionbench.registry import register_preset

register_preset("paper", ["nmi", "qy", "qabf_liu", "ifc"],
                "the SSL-WAEIE paper's four metrics (Tables 1-4): Liu-toolbox NMI, Q_Y, Q_ABF; LIVE ifcvec IFC")
register_preset("vifb", ["vifb:en", "vifb:sd", "vifb:sf", "vifb:ag", "vifb:ei", "vifb:mi", "vifb:ce",
                         "vifb:psnr", "vifb:rmse", "vifb:ssim", "vifb:qabf", "vifb:qcb", "vifb:qcv"],
                "VIFB benchmark's MATLAB metrics, values as VIFB computes them (quirks included)")
register_preset("common", ["en", "sd", "sf", "ag", "mi", "ssim", "vif", "qabf", "scd", "cc"],
                "the textbook set most IVIF repositories print (standard definitions)")
