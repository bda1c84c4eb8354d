"""Miner behaviours: the strategies a dummy dendrite pool's uids play."""
