CREATE TABLE "consent_grants" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"scope" text NOT NULL,
	"mode" text NOT NULL,
	"window_start" timestamp (3) with time zone NOT NULL,
	"window_end" timestamp (3) with time zone NOT NULL,
	"captured_participant_ids" jsonb NOT NULL,
	"excluded_participant_ids" jsonb NOT NULL,
	"consent_record_ids" jsonb NOT NULL,
	"decided_by" text NOT NULL,
	"decided_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "consent_grants_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "consent_grants_scope_check" CHECK ("consent_grants"."scope" in ('recording','transcript')),
	CONSTRAINT "consent_grants_window_check" CHECK ("consent_grants"."window_start" < "consent_grants"."window_end")
);
--> statement-breakpoint
CREATE TABLE "notice_versions" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"notice_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"version" integer NOT NULL,
	"text" text NOT NULL,
	"sha256" text NOT NULL,
	"requires_reconsent" boolean NOT NULL,
	"published_by" text NOT NULL,
	"published_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "notice_versions_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "notice_versions_version_check" CHECK ("notice_versions"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "notices" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"kind" text NOT NULL,
	"locale" text NOT NULL,
	"title" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "notices_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "notices_kind_check" CHECK ("notices"."kind" in ('recording','transcript','attention_tracking','media_monitoring','privacy_policy'))
);
--> statement-breakpoint
CREATE TABLE "recordings" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"ended_at" timestamp (3) with time zone NOT NULL,
	"captured_participant_ids" jsonb NOT NULL,
	"excluded_participant_ids" jsonb NOT NULL,
	"grant_id" uuid NOT NULL,
	"storage_key" text,
	"size_bytes" bigint,
	"sha256" text,
	"region" text NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"stored_at" timestamp (3) with time zone,
	"deleted_at" timestamp (3) with time zone,
	CONSTRAINT "recordings_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "recordings_kind_check" CHECK ("recordings"."kind" in ('cloud','local')),
	CONSTRAINT "recordings_status_check" CHECK ("recordings"."status" in ('pending','stored','rejected','deleted')),
	CONSTRAINT "recordings_window_check" CHECK ("recordings"."started_at" < "recordings"."ended_at")
);
--> statement-breakpoint
CREATE TABLE "transcripts" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"recording_id" uuid,
	"status" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"ended_at" timestamp (3) with time zone NOT NULL,
	"grant_id" uuid NOT NULL,
	"segments" jsonb NOT NULL,
	"redacted_segments" integer NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"deleted_at" timestamp (3) with time zone,
	CONSTRAINT "transcripts_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "transcripts_status_check" CHECK ("transcripts"."status" in ('stored','deleted')),
	CONSTRAINT "transcripts_window_check" CHECK ("transcripts"."started_at" < "transcripts"."ended_at")
);
--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "meeting_id" uuid;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "participant_id" uuid;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "notice_version_id" uuid;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "guardian_name" text;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "recorded_by" text;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "client_network" text;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "request_key" text;--> statement-breakpoint
ALTER TABLE "consent_grants" ADD CONSTRAINT "consent_grants_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notice_versions" ADD CONSTRAINT "notice_versions_notice_fk" FOREIGN KEY ("account_id","notice_id") REFERENCES "public"."notices"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notices" ADD CONSTRAINT "notices_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_grant_fk" FOREIGN KEY ("account_id","grant_id") REFERENCES "public"."consent_grants"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transcripts" ADD CONSTRAINT "transcripts_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transcripts" ADD CONSTRAINT "transcripts_grant_fk" FOREIGN KEY ("account_id","grant_id") REFERENCES "public"."consent_grants"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transcripts" ADD CONSTRAINT "transcripts_recording_fk" FOREIGN KEY ("account_id","recording_id") REFERENCES "public"."recordings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "notice_versions_number_unique" ON "notice_versions" USING btree ("account_id","notice_id","version");--> statement-breakpoint
CREATE INDEX "notice_versions_kind_idx" ON "notice_versions" USING btree ("account_id","kind","published_at");--> statement-breakpoint
CREATE UNIQUE INDEX "notices_kind_locale_unique" ON "notices" USING btree ("account_id","kind","locale");--> statement-breakpoint
CREATE INDEX "recordings_meeting_idx" ON "recordings" USING btree ("account_id","meeting_id");--> statement-breakpoint
CREATE INDEX "recordings_expiry_idx" ON "recordings" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "transcripts_meeting_idx" ON "transcripts" USING btree ("account_id","meeting_id");--> statement-breakpoint
ALTER TABLE "consent_records" ADD CONSTRAINT "consent_records_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_records" ADD CONSTRAINT "consent_records_participant_fk" FOREIGN KEY ("account_id","participant_id") REFERENCES "public"."participants"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_records" ADD CONSTRAINT "consent_records_notice_version_fk" FOREIGN KEY ("account_id","notice_version_id") REFERENCES "public"."notice_versions"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consent_records_meeting_idx" ON "consent_records" USING btree ("account_id","meeting_id","scope","at");--> statement-breakpoint
CREATE UNIQUE INDEX "consent_records_request_key_unique" ON "consent_records" USING btree ("account_id","request_key") WHERE "consent_records"."request_key" is not null;--> statement-breakpoint
ALTER TABLE "consent_records" ADD CONSTRAINT "consent_records_participant_check" CHECK ("consent_records"."participant_id" is null or "consent_records"."meeting_id" is not null);--> statement-breakpoint
-- Consent history is never rewritten and a published notice text never changes: both refuse
-- UPDATE and DELETE in the database, not only in the code.
CREATE FUNCTION consent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records
  FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();
--> statement-breakpoint
CREATE TRIGGER notice_versions_immutable BEFORE UPDATE OR DELETE ON notice_versions
  FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();
