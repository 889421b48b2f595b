"""What the fake subscription offers: locations and VM sizes.

Facts, not copies: VM size shapes (cores, memory MB, temporary disk MB, max data disks) are
Microsoft's published ones ("Sizes for virtual machines in Azure": Av2, B, Dsv5, Fsv2 series
tables); locations and coordinates from ``az account list-locations`` as documented.
"""

from __future__ import annotations

#: name: (displayName, geography, latitude, longitude)
LOCATIONS = {
    "westeurope": ("West Europe", "Europe", "52.3667", "4.9"),
    "northeurope": ("North Europe", "Europe", "53.3478", "-6.2597"),
    "eastus": ("East US", "United States", "37.3719", "-79.8164"),
}

#: name: (numberOfCores, memoryInMB, resourceDiskSizeInMB, maxDataDiskCount)
VM_SIZES = {
    "Standard_B1s": (1, 1024, 4096, 2),
    "Standard_B2s": (2, 4096, 8192, 4),
    "Standard_B2ms": (2, 8192, 16384, 4),
    "Standard_A2_v2": (2, 4096, 20480, 4),
    "Standard_F2s_v2": (2, 4096, 16384, 4),
    "Standard_D2s_v5": (2, 8192, 0, 4),
    "Standard_D4s_v5": (4, 16384, 0, 8),
}
