"""Detection: rules over a message's clean text -> Findings with evidence.

``Detector.load(rules_dir=None)`` reads and validates ``rules/`` (lexicons, phrase rules,
thresholds); ``Detector.detect(message)`` returns the findings; ``mask(text, findings)`` gives the
text an agent may read.
"""

from gateway.detect.engine import Detector
from gateway.detect.mask import mask
from gateway.detect.normalize import Normalized, Normalizer, normalize

__all__ = ["Detector", "Normalized", "Normalizer", "mask", "normalize"]
