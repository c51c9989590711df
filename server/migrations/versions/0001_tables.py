"""tables

Revision ID: 0001
Revises: 0000
Create Date: 2026-11-25 04:50:26.727462
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql
revision = '0001'
down_revision = '0000'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('report_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'lecture_id', 'unit_id')
    )
    op.create_index('ix_report_day_unit', 'report_day', ['unit_id', 'day'], unique=False, postgresql_include=['lecture_id', 'n'])
    op.create_table('report_month',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'lecture_id')
    )
    op.create_table('report_person',
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('online_n', sa.Integer(), nullable=False),
    sa.Column('onsite_n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'start', 'user_id', 'unit_id')
    )
    op.create_table('series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('cover_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('title')
    )
    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_unit_parent_id'), 'unit', ['parent_id'], unique=False)
    op.create_index(op.f('ix_unit_path'), 'unit', ['path'], unique=False)
    op.create_table('worker_ping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('employee_no', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('roles', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('employee_no'),
    sa.UniqueConstraint('phone')
    )
    op.create_index('ix_person_name_trgm', 'person', ['name'], unique=False, postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.create_index(op.f('ix_person_unit_id'), 'person', ['unit_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['person.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_at', 'audit_log', [sa.literal_column('at DESC')], unique=False)
    op.create_index(op.f('ix_audit_log_actor_id'), 'audit_log', ['actor_id'], unique=False)
    op.create_table('lecture',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('online', 'offline', name='lecturekind'), nullable=False),
    sa.Column('status', sa.Enum('draft', 'review', 'published', 'archived', name='lecturestatus'), nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('cover_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('venue_type', sa.Enum('workshop', 'park', 'campus', 'other', name='venuetype'), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('target_unit_ids', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('completion_ratio', sa.Float(), nullable=False),
    sa.Column('max_rate', sa.Float(), nullable=False),
    sa.Column('credit_hidden', sa.Boolean(), nullable=False),
    sa.Column('checkin_opens_min', sa.Integer(), nullable=False),
    sa.Column('checkin_closes_min', sa.Integer(), nullable=False),
    sa.Column('current_media_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('search_text', sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['person.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_lecture_search_trgm', 'lecture', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_index(op.f('ix_lecture_series_id'), 'lecture', ['series_id'], unique=False)
    op.create_index(op.f('ix_lecture_starts_at'), 'lecture', ['starts_at'], unique=False)
    op.create_index(op.f('ix_lecture_status'), 'lecture', ['status'], unique=False)
    op.create_index('ix_lecture_status_published', 'lecture', ['status', 'published_at'], unique=False)
    op.create_table('lecturer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('category', sa.Enum('theory', 'pioneer', 'model_worker', name='lecturercategory'), nullable=False),
    sa.Column('honours', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('work_unit', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('bio', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('topics', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('photo_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('search_text', sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['person.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_index(op.f('ix_lecturer_category'), 'lecturer', ['category'], unique=False)
    op.create_index('ix_lecturer_search_trgm', 'lecturer', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_table('web_session',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index(op.f('ix_web_session_user_id'), 'web_session', ['user_id'], unique=False)
    op.create_table('checkin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.Enum('qr', 'roster', 'walk_in', name='checkinmethod'), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['by_user_id'], ['person.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lecture_id', 'user_id', name='uq_checkin_lecture_user')
    )
    op.create_index('ix_checkin_at', 'checkin', ['at'], unique=False, postgresql_include=['lecture_id', 'user_id', 'unit_id'])
    op.create_index(op.f('ix_checkin_lecture_id'), 'checkin', ['lecture_id'], unique=False)
    op.create_index(op.f('ix_checkin_unit_id'), 'checkin', ['unit_id'], unique=False)
    op.create_index(op.f('ix_checkin_user_id'), 'checkin', ['user_id'], unique=False)
    op.create_table('lecture_lecturer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('lecturer_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lecturer_id'], ['lecturer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lecture_id', 'lecturer_id')
    )
    op.create_index(op.f('ix_lecture_lecturer_lecture_id'), 'lecture_lecturer', ['lecture_id'], unique=False)
    op.create_index(op.f('ix_lecture_lecturer_lecturer_id'), 'lecture_lecturer', ['lecturer_id'], unique=False)
    op.create_table('lecture_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.Enum('draft', 'review', 'published', 'archived', name='lecturestatus'), nullable=False),
    sa.Column('to_status', sa.Enum('draft', 'review', 'published', 'archived', name='lecturestatus'), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_user_id'], ['person.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_lecture_transition_lecture_id'), 'lecture_transition', ['lecture_id'], unique=False)
    op.create_table('upload',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('s3_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('s3_upload_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('last_modified', sa.BigInteger(), nullable=False),
    sa.Column('part_size', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('active', 'completed', 'aborted', name='uploadstate'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['person.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_upload_lecture_id'), 'upload', ['lecture_id'], unique=False)
    op.create_index(op.f('ix_upload_state'), 'upload', ['state'], unique=False)
    op.create_table('viewing_session',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('last_client_ms', sa.Integer(), nullable=False),
    sa.Column('last_position_s', sa.Float(), nullable=False),
    sa.Column('last_rate', sa.Float(), nullable=False),
    sa.Column('last_playing', sa.Boolean(), nullable=False),
    sa.Column('bucket_tokens', sa.Float(), nullable=False),
    sa.Column('bucket_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('credited_s', sa.Float(), nullable=False),
    sa.Column('anomalies', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_viewing_session_user_lecture', 'viewing_session', ['user_id', 'lecture_id'], unique=False)
    op.create_table('watch_progress',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('spans', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('watched_s', sa.Float(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('last_position_s', sa.Float(), nullable=False),
    sa.Column('anomalies', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'lecture_id')
    )
    op.create_index('ix_watch_progress_completed', 'watch_progress', ['completed_at'], unique=False, postgresql_where=sa.text('completed_at IS NOT NULL'), postgresql_include=['lecture_id', 'user_id', 'unit_id'])
    op.create_index(op.f('ix_watch_progress_lecture_id'), 'watch_progress', ['lecture_id'], unique=False)
    op.create_index(op.f('ix_watch_progress_unit_id'), 'watch_progress', ['unit_id'], unique=False)
    op.create_table('heartbeat',
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('position_s', sa.Float(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('visible', sa.Boolean(), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('client_ms', sa.Integer(), nullable=False),
    sa.Column('credited_from_s', sa.Float(), nullable=True),
    sa.Column('credited_to_s', sa.Float(), nullable=True),
    sa.Column('anomaly', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['viewing_session.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'seq')
    )
    op.create_table('media',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('state', sa.Enum('queued', 'probing', 'transcoding', 'publishing', 'ready', 'failed', name='mediastate'), nullable=False),
    sa.Column('percent', sa.Float(), nullable=False),
    sa.Column('eta_s', sa.Integer(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('playable', sa.Boolean(), nullable=False),
    sa.Column('published_prefix', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('renditions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('poster_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('thumbs_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['upload.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_media_lecture_id'), 'media', ['lecture_id'], unique=False)
    op.create_index(op.f('ix_media_state'), 'media', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_media_state'), table_name='media')
    op.drop_index(op.f('ix_media_lecture_id'), table_name='media')
    op.drop_table('media')
    op.drop_table('heartbeat')
    op.drop_index(op.f('ix_watch_progress_unit_id'), table_name='watch_progress')
    op.drop_index(op.f('ix_watch_progress_lecture_id'), table_name='watch_progress')
    op.drop_index('ix_watch_progress_completed', table_name='watch_progress', postgresql_where=sa.text('completed_at IS NOT NULL'), postgresql_include=['lecture_id', 'user_id', 'unit_id'])
    op.drop_table('watch_progress')
    op.drop_index('ix_viewing_session_user_lecture', table_name='viewing_session')
    op.drop_table('viewing_session')
    op.drop_index(op.f('ix_upload_state'), table_name='upload')
    op.drop_index(op.f('ix_upload_lecture_id'), table_name='upload')
    op.drop_table('upload')
    op.drop_index(op.f('ix_lecture_transition_lecture_id'), table_name='lecture_transition')
    op.drop_table('lecture_transition')
    op.drop_index(op.f('ix_lecture_lecturer_lecturer_id'), table_name='lecture_lecturer')
    op.drop_index(op.f('ix_lecture_lecturer_lecture_id'), table_name='lecture_lecturer')
    op.drop_table('lecture_lecturer')
    op.drop_index(op.f('ix_checkin_user_id'), table_name='checkin')
    op.drop_index(op.f('ix_checkin_unit_id'), table_name='checkin')
    op.drop_index(op.f('ix_checkin_lecture_id'), table_name='checkin')
    op.drop_index('ix_checkin_at', table_name='checkin', postgresql_include=['lecture_id', 'user_id', 'unit_id'])
    op.drop_table('checkin')
    op.drop_index(op.f('ix_web_session_user_id'), table_name='web_session')
    op.drop_table('web_session')
    op.drop_index('ix_lecturer_search_trgm', table_name='lecturer', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index(op.f('ix_lecturer_category'), table_name='lecturer')
    op.drop_table('lecturer')
    op.drop_index('ix_lecture_status_published', table_name='lecture')
    op.drop_index(op.f('ix_lecture_status'), table_name='lecture')
    op.drop_index(op.f('ix_lecture_starts_at'), table_name='lecture')
    op.drop_index(op.f('ix_lecture_series_id'), table_name='lecture')
    op.drop_index('ix_lecture_search_trgm', table_name='lecture', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_table('lecture')
    op.drop_index(op.f('ix_audit_log_actor_id'), table_name='audit_log')
    op.drop_index('ix_audit_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_person_unit_id'), table_name='person')
    op.drop_index('ix_person_name_trgm', table_name='person', postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.drop_table('person')
    op.drop_table('worker_ping')
    op.drop_index(op.f('ix_unit_path'), table_name='unit')
    op.drop_index(op.f('ix_unit_parent_id'), table_name='unit')
    op.drop_table('unit')
    op.drop_table('series')
    op.drop_table('report_person')
    op.drop_table('report_month')
    op.drop_index('ix_report_day_unit', table_name='report_day', postgresql_include=['lecture_id', 'n'])
    op.drop_table('report_day')
    op.drop_table('login_throttle')
