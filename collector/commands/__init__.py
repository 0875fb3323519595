"""Sub-commands of ``tesla-energy``: thin adapters from arguments to the pipeline modules."""
