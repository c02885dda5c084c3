"""A process that owns one eSpeak NG synthesizer and says each clip in a fork of itself.

eSpeak NG keeps one global synthesizer state per process, and some of it (the pitch flutter
phase, the automatic gain, the wave phase) carries over from one utterance to the next, so the
same text with the same settings does not give the same samples twice in one process. Here the
library is loaded and initialised once (with the English voice loaded, so that the children share
its dictionary); for every request the process forks, and the child (an exact copy of that
pristine state) sets the voice and settings, synthesises the clip, writes it to stdout and exits.
The worker itself never changes state: a clip depends on its own text and settings only, never on
what was said or which voices were set before it. eSpeak NG's noise generator (breath and whisper
in some variants) is seeded with the time by ``espeak_Initialize``; each child seeds it from its
request (``espeak_ng_SetRandSeed``), so a clip is also the same in any process at any time. (Setting voices in the worker instead is faster,
but some voice histories then crash eSpeak NG's Klatt voices: seen with ``en+klatt`` after about 70
other variants.)

Run as a script (``python .../espeak_worker.py``, not ``-m``, which would import the package and
torch with it); it imports only the standard library and ``espeakng-loader`` (which ships
``libespeak-ng.so`` and its voice data), so the process stays small and a fork is cheap.

Protocol (binary, on stdin/stdout): the worker first writes a JSON line ``{"sample_rate": ...,
"version": ...}``. Each request is a 4-byte little-endian length and a JSON object (``text``,
``voice``, ``rate``, ``pitch``, ``range``, ``gap``, ``amplitude``); each reply is a 4-byte
status (0: audio, 1: error) and a 4-byte length, then that many bytes: int16 samples, or an
error message.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import sys
import zlib

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
PARAMETERS = {"rate": 1, "amplitude": 2, "pitch": 3, "range": 4, "gap": 7}

CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def load_library():
    """``libespeak-ng`` from ``espeakng-loader``, initialised in synchronous mode; returns (lib, rate, version)."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]  # fmt: skip
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise RuntimeError(f"espeak_Initialize failed ({rate})")
    return lib, rate, lib.espeak_Info(None).decode()


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _reply(status: int, payload: bytes) -> None:
    view = memoryview(struct.pack("<ii", status, len(payload)) + payload)
    while view:
        view = view[os.write(1, view) :]


def main() -> None:
    lib, rate, version = load_library()
    chunks: list[bytes] = []

    def collect(wav, count, events):  # called by espeak_Synth with each block of samples
        if count > 0:
            chunks.append(ctypes.string_at(wav, 2 * count))
        return 0

    callback = CALLBACK(collect)
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName(b"en")
    os.write(1, (json.dumps({"sample_rate": rate, "version": version}) + "\n").encode())
    stdin = sys.stdin.buffer
    while (header := _read_exact(stdin, 4)) is not None:
        request = json.loads(_read_exact(stdin, struct.unpack("<I", header)[0]))
        pid = os.fork()
        if pid == 0:  # the child: set the voice, say the text from the pristine state, send it, leave
            # Breathy and whispering variants (+whisper, +f5, +Demonic, ...) draw noise from eSpeak NG's
            # own generator, which espeak_Initialize seeds with the time: seeded from the request
            # instead, the same clip gives the same samples in any process, at any time.
            lib.espeak_ng_SetRandSeed(zlib.crc32(json.dumps(request, sort_keys=True).encode()))
            if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
                _reply(1, f"eSpeak NG has no voice '{request['voice']}'".encode())
                os._exit(0)
            for name, parameter in PARAMETERS.items():
                if name in request:
                    lib.espeak_SetParameter(parameter, int(request[name]), 0)
            text = request["text"].encode()
            lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            _reply(0, b"".join(chunks))
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            _reply(1, f"the synthesis process ended with status {status}".encode())


if __name__ == "__main__":
    main()
