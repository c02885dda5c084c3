"""raysynth: synthetic audio from generative models, at scale on Ray."""
