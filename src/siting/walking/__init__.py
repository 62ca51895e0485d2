"""Walking: who can reach which site, and how long it takes.

Walking times differ by age group only through the group's speed on flat ground: slope and
stairs slow every group by the same factor. So this stage measures every trip once, in
*flat-equivalent metres* (the distance a walker would cover on flat ground in the same time),
and a group's time is that figure divided by the group's speed.
"""

from siting.walking.network import WalkingNetwork, network_reach, read_network_csv, tobler_factor
from siting.walking.reach import Reach, euclidean_reach

__all__ = [
    "Reach",
    "WalkingNetwork",
    "euclidean_reach",
    "network_reach",
    "read_network_csv",
    "tobler_factor",
]
