"""Stage 1, transcribe: a replay (audio or video) or an existing transcript -> `Transcript`.

    transcription.py    the stage: import a transcript, or decode the audio block by block
    audio.py            decoding and checking the replay (PyAV), blocks of audio
    asr.py              Whisper windows in batches, the guards against invented text, the audit
    whisper_model.py    where the Whisper weights come from (the bundled base model, or a name/path)
    diarize.py          who spoke when: voices from speaker embeddings, clustered
    speaker_embedding.py  the CAM++ speaker model, in numpy
    importers.py        VTT, SRT, TXT, DOCX and JSON transcripts
    checkpoint.py       the transcription's resumable checkpoint
"""

from .transcription import transcribe

__all__ = ["transcribe"]
