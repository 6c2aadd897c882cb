"""Audio I/O: fixed-size 16 kHz chunks from files and devices, the microphone, one resampler."""
