"""``vidcolor-studio DIR``: a keyframe folder (made by ``vidcolor-keyframes``) in a local web page,
to paint colour hints on its keyframes, preview their shots and render the film.

Rooms: ``workbench`` (the folder's keyframes, their hints and colours: what the page edits, saved
as the files the command line reads), ``jobs`` (the model's work: a shot's preview, the film's
render in the background), ``server`` (HTTP on 127.0.0.1 with a token, one-line JSON errors),
``cli`` (the command), and the page itself (``page.html``, ``studio.js``, ``studio.css``: no asset
from the internet). Only the standard library serves it: one person's page on loopback needs no
web framework, and none then needs installing, keeping up or auditing.
"""
