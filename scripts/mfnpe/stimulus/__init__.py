"""What the simulators inject and where the features are measured, without reading files.

- ``step``: the current step (:class:`~mfnpe.stimulus.step.Stimulus`) and the stimulus
  interface every simulator takes;
- ``protocols``: a sweep's piecewise-constant command current [pA] as a stimulus, its
  feature windows and its plain form in job settings;
- ``windows``: the rest, stimulus and passive windows of the features [ms];
- ``sweeps``: plain names and settings of a recording stimulus (no numerics: the planning
  layer imports it).

Reading a recording's sweeps and protocols is :mod:`mfnpe.recordings`.
"""
