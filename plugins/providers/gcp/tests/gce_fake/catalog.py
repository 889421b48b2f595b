"""What the fake Compute Engine project offers: regions, zones, machine types, image families.

Facts, not copies: machine type shapes (vCPUs, memory in MB, shared core, architecture) are
Google's published ones (cloud.google.com/compute/docs/general-purpose-machines, "E2",
"N1", "N2", "N2D", "C3", "Tau T2A" tables); the zone lists are Google's region/zone table
(cloud.google.com/compute/docs/regions-zones); the default network's subnet in europe-west1 is
10.132.0.0/20 and in us-central1 10.128.0.0/20 (auto mode ranges, docs "VPC networks").
"""

from __future__ import annotations

REGIONS: dict[str, list[str]] = {
    "europe-west1": ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
    "us-central1": ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"],
}
ZONES = {zone: region for region, zones in REGIONS.items() for zone in zones}
AUTO_SUBNETS = {"europe-west1": "10.132.0.0/20", "us-central1": "10.128.0.0/20"}

#: name: (guestCpus, memoryMb, isSharedCpu, architecture)
MACHINE_TYPES: dict[str, tuple[int, int, bool, str]] = {
    "e2-micro": (2, 1024, True, "X86_64"),
    "e2-small": (2, 2048, True, "X86_64"),
    "e2-medium": (2, 4096, True, "X86_64"),
    "e2-highcpu-2": (2, 2048, False, "X86_64"),
    "e2-standard-2": (2, 8192, False, "X86_64"),
    "e2-highmem-2": (2, 16384, False, "X86_64"),
    "e2-standard-4": (4, 16384, False, "X86_64"),
    "f1-micro": (1, 614, True, "X86_64"),
    "n1-standard-1": (1, 3840, False, "X86_64"),
    "n1-standard-2": (2, 7680, False, "X86_64"),
    "n2-standard-2": (2, 8192, False, "X86_64"),
    "n2d-standard-2": (2, 8192, False, "X86_64"),
    "c3-standard-4": (4, 16384, False, "X86_64"),
    "t2a-standard-2": (2, 8192, False, "ARM64"),
}

#: Public image families an instance may boot from (projects/<project>/global/images/family/…).
IMAGE_FAMILIES = {
    ("ubuntu-os-cloud", "ubuntu-2404-lts-amd64"),
    ("ubuntu-os-cloud", "ubuntu-2204-lts"),
    ("debian-cloud", "debian-12"),
}
