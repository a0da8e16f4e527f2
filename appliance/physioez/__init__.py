"""PhysioEZ: the clinic appliance for physiotherapy and rehabilitation chains."""

__version__ = "0.1.0"
