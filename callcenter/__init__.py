"""callcenter: a call-center engine that drives a real Asterisk over AMI and FastAGI."""

__version__ = "0.1.0"
