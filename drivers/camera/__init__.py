"""Camera drivers: `CameraBackend` implementations.

- `drivers.camera.opencv`: the ``opencv`` driver, frames from ``cv2.VideoCapture``: a
  V4L2 webcam (``opencv:///dev/video0``, ``opencv://?device=0``), a video file or an
  image sequence, or one still image re-read on every capture (docs/camera.md).
"""
