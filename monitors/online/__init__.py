"""Online learning on the label stream: detectors and challengers, pair by pair.

:mod:`.detectors` watch a model's errors between window closes (River's drift
detectors); :mod:`.challenger` keeps an online River model learning from each
labelled pair next to the deployed model, in mini-batches where asked
(:mod:`.minibatch`); :mod:`.models` names the online models it can be and
builds them.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["challenger", "detectors", "minibatch", "models"]
