"""Media I/O: video files and frame folders in, video files and PNG folders out.

* ``reader``: a video file's header, frame times and upright RGB frames (PyAV);
* ``writer``: frames encoded into a video file at their times, with the input's audio
  (``audio_track``), pixel aspect and BT.601 colour tags (PyAV);
* ``formats``: what the two share (container extensions, PyAV's errors);
* ``orientation``: the display matrix; ``timeline``: frame times, the input's and the
  output's; ``frame_folder``: folders of frame files, read and written;
* ``sources``: a checked input (``open_source``) and an output (``FrameSink``), either kind;
* ``atomic_output``: an output that appears only when complete (``star_jax.files``).

Nothing here knows about the model: ``star_jax.infer`` streams these frames through it.
The package imports none of its modules itself, so ``timeline`` or ``frame_folder`` load
without PyAV.
"""
