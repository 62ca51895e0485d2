"""Stage 1, data: the scenario file and its overrides, the service catalogue, the readers of the
bureau's tables, and the district they make (demand, idle sites, existing facilities, in metres).

Nothing here knows of walking, coverage or the model.
"""
