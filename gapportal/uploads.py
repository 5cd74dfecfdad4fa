"""Refuse oversized uploads while they stream in, instead of spooling them to disk first.

Django accepts uploads of any size by default (FILE_UPLOAD_MAX_MEMORY_SIZE only decides where a
file is buffered). This handler skips any file past MAX_UPLOAD_BYTES and marks the request, so
the view can say why the file is missing.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitedUploadHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.MAX_UPLOAD_BYTES:
            setattr(self.request, "upload_too_large", True)  # read by the upload views  # noqa: B010
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
