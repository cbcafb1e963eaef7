"""The safety stage: hash lists, opt-outs, unsafe text, personal data and faces."""
