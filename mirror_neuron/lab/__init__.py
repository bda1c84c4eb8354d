"""The exploit lab: tournaments of miner strategies and the search for text transforms that hack the reward."""
