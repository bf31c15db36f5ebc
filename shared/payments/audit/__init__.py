"""The tamper-evident audit trail: records (written with the money), the chainer, the anchors
and the verifier."""
