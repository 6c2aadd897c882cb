"""voicecoach: an offline voice coach for knee pain on the gym floor.

Pipeline: microphone -> recognizer -> matcher -> dialogue -> voice. Each stage is its own module.
"""

__version__ = "0.1.0"
