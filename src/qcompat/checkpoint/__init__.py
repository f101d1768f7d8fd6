"""Reading a checkpoint: a local directory, the Hub cache, or the Hub header-only; its config, quantization config
and scheme; safetensors headers as the format defines them; GPTQ maths and tensor data."""
