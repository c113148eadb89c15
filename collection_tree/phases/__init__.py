"""The pipeline's phases, one pure function per module (data + LLM + progress in, data out)."""
