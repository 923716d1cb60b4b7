CREATE TABLE "attention_spans" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"participant_id" uuid NOT NULL,
	"lost_at" timestamp (3) with time zone NOT NULL,
	"regained_at" timestamp (3) with time zone,
	"expires_at" timestamp (3) with time zone,
	CONSTRAINT "attention_spans_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "attention_spans_order_check" CHECK ("attention_spans"."regained_at" is null or "attention_spans"."regained_at" > "attention_spans"."lost_at"),
	CONSTRAINT "attention_spans_kept_check" CHECK (("attention_spans"."regained_at" is null) = ("attention_spans"."expires_at" is null))
);
--> statement-breakpoint
CREATE TABLE "media_diagnostics" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"meeting_id" uuid,
	"period_start" timestamp (3) with time zone NOT NULL,
	"period_end" timestamp (3) with time zone NOT NULL,
	"bitrate_kbps" integer NOT NULL,
	"packet_loss_pct" double precision NOT NULL,
	"jitter_ms" integer NOT NULL,
	"round_trip_ms" integer NOT NULL,
	"codec" text NOT NULL,
	"network_type" text NOT NULL,
	"client_network" text,
	"received_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "media_diagnostics_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "media_diagnostics_period_check" CHECK ("media_diagnostics"."period_start" < "media_diagnostics"."period_end"),
	CONSTRAINT "media_diagnostics_network_check" CHECK ("media_diagnostics"."network_type" in ('wifi','ethernet','cellular','other','unknown'))
);
--> statement-breakpoint
CREATE TABLE "screen_shares" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"participant_id" uuid NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"stopped_at" timestamp (3) with time zone,
	CONSTRAINT "screen_shares_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "screen_shares_order_check" CHECK ("screen_shares"."stopped_at" is null or "screen_shares"."stopped_at" >= "screen_shares"."started_at")
);
--> statement-breakpoint
ALTER TABLE "attention_spans" ADD CONSTRAINT "attention_spans_participant_fk" FOREIGN KEY ("account_id","participant_id") REFERENCES "public"."participants"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attention_spans" ADD CONSTRAINT "attention_spans_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_diagnostics" ADD CONSTRAINT "media_diagnostics_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_diagnostics" ADD CONSTRAINT "media_diagnostics_user_fk" FOREIGN KEY ("account_id","user_id") REFERENCES "public"."users"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_diagnostics" ADD CONSTRAINT "media_diagnostics_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "screen_shares" ADD CONSTRAINT "screen_shares_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "screen_shares" ADD CONSTRAINT "screen_shares_participant_fk" FOREIGN KEY ("account_id","participant_id") REFERENCES "public"."participants"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "attention_spans_one_open_unique" ON "attention_spans" USING btree ("account_id","participant_id") WHERE "attention_spans"."regained_at" is null;--> statement-breakpoint
CREATE INDEX "attention_spans_meeting_idx" ON "attention_spans" USING btree ("account_id","meeting_id","participant_id");--> statement-breakpoint
CREATE INDEX "attention_spans_expiry_idx" ON "attention_spans" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "media_diagnostics_user_idx" ON "media_diagnostics" USING btree ("account_id","user_id","received_at");--> statement-breakpoint
CREATE INDEX "media_diagnostics_expiry_idx" ON "media_diagnostics" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "screen_shares_one_running_unique" ON "screen_shares" USING btree ("account_id","meeting_id") WHERE "screen_shares"."stopped_at" is null;--> statement-breakpoint
CREATE INDEX "screen_shares_meeting_idx" ON "screen_shares" USING btree ("account_id","meeting_id","started_at");