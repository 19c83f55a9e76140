"""simgate: an SMS gateway for a Raspberry Pi with a SIM800 / SIM7600 HAT."""

__version__ = "0.1.0"
