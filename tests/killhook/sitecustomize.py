"""Loaded by every Python process started with this folder on PYTHONPATH (the Ray workers of
tests/test_cluster.py): where the file VIDCOLOR_TEST_KILL_REQUEST names exists, the first output
writer to reach its 5th frame claims it and kills its own process (SIGKILL), so a worker dies
mid-file on every run, not when a poll happens to catch it."""
import os

REQUEST = os.environ.get("VIDCOLOR_TEST_KILL_REQUEST")

if REQUEST:
    import signal

    from vidcolor import encode

    _write = encode.VideoWriter.write_frame

    def write_frame(self, frame):
        _write(self, frame)
        if self.frames_written == 5 and os.path.exists(REQUEST):
            claimed = f"{REQUEST}.{os.getpid()}"
            try:
                os.rename(REQUEST, claimed)  # one worker claims it, whatever the others do
            except OSError:
                return
            os.kill(os.getpid(), signal.SIGKILL)

    encode.VideoWriter.write_frame = write_frame
