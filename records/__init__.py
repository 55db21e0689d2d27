"""The job record: the project's central noun, what the parent, the web, ops and every stage see
of one video. Its own home, below queueing, pipeline, deadletter and maintenance, which all read
and write it: arrows run one way."""

from records.job_records import (
    KEY_PREFIX,
    JobRecord,
    JobRecords,
    State,
    checkpoints_key,
    page_key,
    record_key,
    timeline_key,
)

__all__ = [
    'KEY_PREFIX',
    'JobRecord',
    'JobRecords',
    'State',
    'checkpoints_key',
    'page_key',
    'record_key',
    'timeline_key',
]
