"""Predictors that ask a model served elsewhere (vLLM, SGLang, llama.cpp, ``transformers serve``) over HTTP."""
