CREATE TABLE "consent_client_details" (
	"account_id" uuid NOT NULL,
	"record_id" uuid NOT NULL,
	"user_agent" text,
	"client_network" text,
	CONSTRAINT "consent_client_details_account_id_record_id_pk" PRIMARY KEY("account_id","record_id")
);
--> statement-breakpoint
CREATE TABLE "privacy_exports" (
	"account_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"document" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "privacy_exports_account_id_request_id_pk" PRIMARY KEY("account_id","request_id")
);
--> statement-breakpoint
CREATE TABLE "privacy_request_history" (
	"account_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "privacy_request_history_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" timestamp (3) with time zone NOT NULL,
	"actor" text NOT NULL,
	"change" text NOT NULL,
	"from_status" text,
	"to_status" text,
	"reason" text,
	CONSTRAINT "privacy_request_history_account_id_request_id_seq_pk" PRIMARY KEY("account_id","request_id","seq")
);
--> statement-breakpoint
CREATE TABLE "privacy_requests" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"subject_user_id" uuid,
	"subject_meeting_id" uuid,
	"subject_participant_id" uuid,
	"details" jsonb NOT NULL,
	"filed_by" text NOT NULL,
	"filed_as" text NOT NULL,
	"reason" text,
	"received_at" timestamp (3) with time zone NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	"extended_to" timestamp (3) with time zone,
	"extension_reason" text,
	"completed_at" timestamp (3) with time zone,
	"lifted_at" timestamp (3) with time zone,
	"result" jsonb,
	CONSTRAINT "privacy_requests_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "privacy_requests_subject_check" CHECK (("privacy_requests"."subject_user_id" is null) <> ("privacy_requests"."subject_participant_id" is null)),
	CONSTRAINT "privacy_requests_guest_check" CHECK (("privacy_requests"."subject_participant_id" is null) = ("privacy_requests"."subject_meeting_id" is null)),
	CONSTRAINT "privacy_requests_status_check" CHECK ("privacy_requests"."status" in ('received','verified','in_progress','completed','rejected'))
);
--> statement-breakpoint
ALTER TABLE "privacy_exports" ADD CONSTRAINT "privacy_exports_request_fk" FOREIGN KEY ("account_id","request_id") REFERENCES "public"."privacy_requests"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "privacy_request_history" ADD CONSTRAINT "privacy_request_history_request_fk" FOREIGN KEY ("account_id","request_id") REFERENCES "public"."privacy_requests"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "privacy_requests" ADD CONSTRAINT "privacy_requests_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "privacy_exports_expiry_idx" ON "privacy_exports" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "privacy_requests_due_idx" ON "privacy_requests" USING btree ("account_id","status","due_at");--> statement-breakpoint
CREATE INDEX "privacy_requests_subject_idx" ON "privacy_requests" USING btree ("account_id","subject_user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "privacy_requests_one_open_unique" ON "privacy_requests" USING btree ("account_id","subject_user_id","subject_participant_id","type") WHERE "privacy_requests"."status" in ('received', 'verified', 'in_progress');--> statement-breakpoint
-- The client details of records written so far move beside them, so erasure can delete them
-- without touching the append-only records.
INSERT INTO "consent_client_details" ("account_id", "record_id", "user_agent", "client_network")
  SELECT "account_id", "id", "user_agent", "client_network" FROM "consent_records"
  WHERE "user_agent" IS NOT NULL OR "client_network" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "consent_records" DROP COLUMN "user_agent";--> statement-breakpoint
ALTER TABLE "consent_records" DROP COLUMN "client_network";