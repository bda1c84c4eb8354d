"""The attacker's library: text transforms of an honest answer, and the words they write.

One home for exploit text. A hacking miner of the dummy dendrite pool
(:mod:`mirror_neuron.neuron.miners.scripted`) is an honest answer put through these transforms, and a
candidate of the reward-hack search (:mod:`mirror_neuron.lab.hack_search`) is a chain of the same
functions, so a strategy in a tournament and a candidate in the search are the same code.
"""
