"""emtk3s: turn an upstream K3s release into from-source RPMs for the Edge Microvisor Toolkit."""

__version__ = "0.1.0"
