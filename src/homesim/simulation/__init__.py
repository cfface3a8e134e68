"""The simulated smart-home AI pipeline: stages that detect, suggest, build and assess over generated homes,
each a collection point emitting training records scored against ground truth (see `cycle`)."""
