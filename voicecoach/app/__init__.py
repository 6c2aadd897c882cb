"""The live coach: the listening loop and the session that owns recogniser, voice and warm-up."""
