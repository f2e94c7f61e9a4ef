"""Copy decoding for the inline formats: constrained and speculative greedy decoding, one job per module.

- ``vocabulary``: the tokenizer's vocabulary as bytes, in a byte trie
- ``grammar``: the renderings of one input as a byte automaton over named states
- ``allowed``: the tokens allowed at a state, walked in the trie and shared across sentences
- ``guesses``: draft texts, and where they expect entities (``Guess``, ``EntityMemory``)
- ``drafts``: each row's draft as tokens, its length adapting to what is accepted
- ``switch``: whether a step drafts at all (``DraftSwitch``)
- ``rows``: host bookkeeping of a batch's rows
- ``cache``: the KV caches and attention mask
- ``step``: one step's inputs packed for the device, and the choices made from its outputs
- ``decoder``: the loop (``CopyDecoder``)
"""
