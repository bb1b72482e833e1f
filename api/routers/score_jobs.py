"""``/v1/score-jobs``: score a whole uploaded CSV in the background, poll it, download the results.

The upload is read only after the caller is authenticated (the multipart body is parsed in
the handler, not before the dependencies), copied into the job's folder with its size,
encoding and header checked, and queued; ``api.score_jobs`` does the rest.
"""

from __future__ import annotations

import codecs
import csv
import os
import shutil
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import StreamingResponse

from api.deps import Context, Model, PredictorRole
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, errors
from api.schemas import ErrorResponse, FieldIssue
from api.schemas_score_jobs import ScoreJob
from api.score_jobs import ISSUES, JOB_ID_PATTERN, RESULT, JobStore, safe_csv_chunks, safe_filename
from attrition.data.validation import KNOWN_EXTRA_COLUMNS, REQUIRED_COLUMNS
from attrition.schema import ALL_COLUMNS

router = APIRouter(prefix="/v1", tags=["score jobs"])

_READ_BYTES = 1 << 20
_HEAD_BYTES = 1 << 16
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A UTF-8 CSV in the record contract (what `attrition score --csv` reads)",
                    }
                },
            },
            "example": {"file": "workforce_2026-10.csv"},
        }
    },
}
_RESULT_EXAMPLE = (
    "EmployeeNumber,snapshot_date,probability,label,risk_band,high_risk,top_factor_1\n"
    "1207,2026-10-31,0.62,True,high,True,OverTime=Yes (+12.3 pts)\n"
)
_ISSUES_EXAMPLE = (
    "line,column,severity,reason\n1207,Department,error,Department: 'Space' is not a department\n"
)


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


_NOT_DONE = "The job is not done yet, or it failed"
_ERROR_SCHEMA = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}


def _json_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error entries of a CSV route (a ``model`` entry would be documented under its text/csv)."""
    described = {
        code: entry["description"] for code, entry in errors(*(c for c in codes if c != 409)).items()
    }
    if 409 in codes:
        described[409] = _NOT_DONE
    return {
        code: {"description": text, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
        for code, text in described.items()
    }


def _csv_doc(description: str, example: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"text/csv": {"example": example}}}}


JobId = Annotated[
    str,
    PathParam(
        pattern=JOB_ID_PATTERN,
        description="The `job_id` that `POST /v1/score-jobs` returned",
        openapi_examples={"example": {"summary": "A job id", "value": "3f2b8c1d9e7a4f6b8c0d1e2f3a4b5c6d"}},
    ),
]


def _file_issue(status: int, message: str, expected: str, received: Any) -> ApiError:
    return ApiError(status, message, [FieldIssue(field="file", expected=expected, received=received)])


def _receive(source: BinaryIO, dest: Path, limit: int) -> tuple[int, str]:
    """Copy the upload into ``dest`` (0600) checking size and UTF-8; (data rows, header line)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = newlines = 0
    head, last = b"", b""
    with os.fdopen(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while chunk := source.read(_READ_BYTES):
            size += len(chunk)
            if size > limit:
                raise _file_issue(
                    413,
                    f"upload too large: the limit is {limit:,} bytes (serving.max_upload_bytes); "
                    "split the file",
                    f"at most {limit:,} bytes",
                    f"more than {limit:,} bytes",
                )
            try:
                if b"\x00" in chunk:
                    raise UnicodeError("NUL byte")
                decoder.decode(chunk)
            except UnicodeError:
                raise _not_text() from None
            newlines += chunk.count(b"\n")
            if len(head) < _HEAD_BYTES and b"\n" not in head:
                head += chunk[:_HEAD_BYTES]
            last = chunk[-1:]
            out.write(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeError:
        raise _not_text() from None
    if size == 0:
        raise _file_issue(422, "the uploaded file is empty", "a CSV file with a header and rows", "0 bytes")
    lines = newlines + (last != b"\n")
    header = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r")
    return max(lines - 1, 0), header


def _not_text() -> ApiError:
    return _file_issue(
        422,
        "the uploaded file is not UTF-8 text: export it as CSV (UTF-8)",
        "a CSV file in UTF-8",
        "binary data or bytes that are not UTF-8",
    )


def _check_header(header: str, rows: int) -> None:
    """422 naming the problem when the header cannot be the contract's (never echoing the line)."""
    names = [name.strip() for name in next(csv.reader([header]), [])]
    expected = (
        f"a header line with the {len(REQUIRED_COLUMNS)} required columns of the record contract "
        "(GET /v1/employees/sample shows a valid record)"
    )
    if not {*ALL_COLUMNS, *KNOWN_EXTRA_COLUMNS}.intersection(names):
        received = f"a first line of {len(names)} field(s) naming none of the contract's columns"
        raise _file_issue(422, "the uploaded file has no header of the record contract", expected, received)
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        message = f"the uploaded file lacks required column(s): {', '.join(missing)}"
        raise _file_issue(422, message, expected, f"a header without: {', '.join(missing)}")
    repeated = sorted({n for n in names if n in ALL_COLUMNS and names.count(n) > 1})
    if repeated:
        message = f"the uploaded file repeats column(s): {', '.join(repeated)}"
        raise _file_issue(422, message, "each column once", f"repeated: {', '.join(repeated)}")
    if rows == 0:
        raise _file_issue(
            422, "the uploaded file has a header but no rows", "at least one data row", "0 rows"
        )


async def _upload(request: Request) -> UploadFile:
    """The ``file`` part of the multipart body (422 naming ``file`` when it is not there)."""
    try:
        form = await request.form(max_files=1, max_fields=10)
    except HTTPException as exc:  # Starlette's parse errors (bad boundary, too many parts) are 400s
        if exc.status_code == 413:  # the body passed the upload limit while arriving
            raise
        raise _file_issue(
            422, "the body is not valid multipart/form-data", "a form with one file field 'file'", None
        ) from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        received = "a text field" if upload is not None else None
        raise _file_issue(422, "no file uploaded: send the CSV in the form field 'file'", "a file", received)
    return upload


def _job(status: dict[str, Any]) -> ScoreJob:
    base = f"/v1/score-jobs/{status['job_id']}"
    return ScoreJob.model_validate({**status, "result_url": f"{base}/result", "issues_url": f"{base}/issues"})


def _visible(store: JobStore, caller_name: str, caller_role: str, job_id: str) -> dict[str, Any]:
    """The job's status when the caller may see it; 404 (not 403) otherwise, so ids cannot be probed."""
    status = store.read(job_id)
    if status is None or (status["created_by"] != caller_name and caller_role != "admin"):
        hours = store.retention_seconds / 3600
        raise ApiError(
            404,
            f"no score job {job_id} for you: a job is visible to whoever uploaded it and to admins, "
            f"and is kept {hours:g} hours",
            [FieldIssue(field="job_id", expected="the id of one of your score jobs", received=job_id)],
        )
    return status


@router.post(
    "/score-jobs",
    response_model=ScoreJob,
    status_code=202,
    summary="Upload a CSV to score in the background",
    responses=errors(*AUTH_ERRORS, 413, 415, 422, 503),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def create_score_job(
    request: Request,
    response: Response,
    caller: PredictorRole,
    ctx: Context,
    model: Model,
    factors: Annotated[
        int,
        Query(
            ge=0,
            le=5,
            description="Top factors explained per row (0: none; fewer is faster)",
            openapi_examples={"example": {"summary": "Three factors per row", "value": 3}},
        ),
    ] = 3,
) -> ScoreJob:
    """For files larger than `/v1/predict/batch` takes: poll the job, then download `result_url`.

    Same checks and output as `attrition score --csv`: bad rows are skipped and listed in `issues`
    (and `issues_url`), every scored row goes to the prediction log under `batch_id`.
    """
    upload = await _upload(request)
    store = ctx.score_jobs.store
    job_id, folder = await run_in_threadpool(store.new_folder)
    try:
        rows, header = await run_in_threadpool(
            _receive, upload.file, folder / "input.csv", ctx.settings.serving.max_upload_bytes
        )
        _check_header(header, rows)
        status = await run_in_threadpool(
            store.create,
            job_id,
            filename=safe_filename(upload.filename),
            created_by=caller.name,
            rows_total=rows,
            top_k=factors,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await upload.close()
    ctx.score_jobs.submit(job_id)
    await run_in_threadpool(store.purge_expired)
    response.headers["Location"] = f"/v1/score-jobs/{job_id}"
    return _job(status)


@router.get(
    "/score-jobs/{job_id}",
    response_model=ScoreJob,
    summary="A score job's status, counts and first issues",
    responses=errors(*AUTH_ERRORS, 404, 422),
)
def get_score_job(caller: PredictorRole, ctx: Context, job_id: JobId) -> ScoreJob:
    """Poll until `status` is `done` (or `failed`, with `error`); `progress` goes from 0 to 1."""
    return _job(_visible(ctx.score_jobs.store, caller.name, caller.role, job_id))


def _download(
    ctx: Context, caller_name: str, caller_role: str, job_id: str, name: str, prefix: str
) -> CsvResponse:
    store = ctx.score_jobs.store
    status = _visible(store, caller_name, caller_role, job_id)
    if status["status"] != "done":
        why = f"failed ({status['error']})" if status["status"] == "failed" else f"is {status['status']}"
        raise ApiError(
            409,
            f"score job {job_id} {why}: its files are ready only once status is done "
            f"(GET /v1/score-jobs/{job_id})",
        )
    path = store.folder(job_id) / name
    if not path.is_file():
        raise ApiError(404, f"the files of score job {job_id} were deleted; upload the file again")
    stem = Path(status["filename"]).stem or "upload"
    disposition = f'attachment; filename="{prefix}_{stem}.csv"'
    return CsvResponse(safe_csv_chunks(path), headers={"Content-Disposition": disposition})


@router.get(
    "/score-jobs/{job_id}/result",
    response_class=CsvResponse,
    summary="Download a done job's scored rows (CSV)",
    responses={
        **_csv_doc("One row per scored employee", _RESULT_EXAMPLE),
        **_json_errors(*AUTH_ERRORS, 404, 409, 422),
    },
)
def score_job_result(caller: PredictorRole, ctx: Context, job_id: JobId) -> CsvResponse:
    """Probability, label, risk band and top factors per row; 409 until the job is done.

    Cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) get a leading `'`.
    """
    return _download(ctx, caller.name, caller.role, job_id, RESULT, "scores")


@router.get(
    "/score-jobs/{job_id}/issues",
    response_class=CsvResponse,
    summary="Download a done job's row issues (CSV)",
    responses={
        **_csv_doc("line, column, severity, reason", _ISSUES_EXAMPLE),
        **_json_errors(*AUTH_ERRORS, 404, 409, 422),
    },
)
def score_job_issues(caller: PredictorRole, ctx: Context, job_id: JobId) -> CsvResponse:
    """Every issue the job kept (up to 1,000; `issue_count` counts all); 409 until the job is done."""
    return _download(ctx, caller.name, caller.role, job_id, ISSUES, "issues")
