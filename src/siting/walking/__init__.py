"""Walking: who can reach which site, and how long it takes.

Walking times differ by age group only through the group's speed on flat ground: slope and
stairs slow every group by the same factor. So this stage measures every trip once, in
*flat-equivalent metres* (the distance a walker would cover on flat ground in the same time),
and a group's time is that figure divided by the group's speed.
"""

from siting.walking.network import WalkingNetwork, tobler_factor
from siting.walking.paths import isolated_origins, network_reach
from siting.walking.reach import Reach, euclidean_reach
from siting.walking.readers import read_network, read_network_csv
from siting.walking.snapping import Snapping, snap

__all__ = [
    "Reach",
    "Snapping",
    "WalkingNetwork",
    "euclidean_reach",
    "isolated_origins",
    "network_reach",
    "read_network",
    "read_network_csv",
    "snap",
    "tobler_factor",
]
