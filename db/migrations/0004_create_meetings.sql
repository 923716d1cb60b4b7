CREATE TABLE "meetings" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"host_user_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"scheduled_start" timestamp with time zone NOT NULL,
	"duration_minutes" integer NOT NULL,
	"time_zone" text NOT NULL,
	"join_url" text NOT NULL,
	"passcode_hash" text,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"started_at" timestamp (3) with time zone,
	"ended_at" timestamp (3) with time zone,
	"cancelled_at" timestamp (3) with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "meetings_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "meetings_status_check" CHECK ("meetings"."status" in ('scheduled','live','ended','cancelled')),
	CONSTRAINT "meetings_duration_check" CHECK ("meetings"."duration_minutes" between 1 and 1440),
	CONSTRAINT "meetings_live_started_check" CHECK ("meetings"."status" = 'scheduled' or "meetings"."status" = 'cancelled' or "meetings"."started_at" is not null),
	CONSTRAINT "meetings_ended_check" CHECK ("meetings"."status" <> 'ended' or "meetings"."ended_at" is not null)
);
--> statement-breakpoint
CREATE TABLE "participants" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"user_id" uuid,
	"guest_display_name" text,
	"role" text NOT NULL,
	"is_minor" boolean DEFAULT false NOT NULL,
	"joined_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "participants_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "participants_role_check" CHECK ("participants"."role" in ('host','cohost','attendee')),
	CONSTRAINT "participants_user_or_guest_check" CHECK (("participants"."user_id" is null) <> ("participants"."guest_display_name" is null))
);
--> statement-breakpoint
CREATE TABLE "presence_intervals" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"participant_id" uuid NOT NULL,
	"joined_at" timestamp (3) with time zone NOT NULL,
	"left_at" timestamp (3) with time zone,
	CONSTRAINT "presence_intervals_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "presence_order_check" CHECK ("presence_intervals"."left_at" is null or "presence_intervals"."left_at" >= "presence_intervals"."joined_at")
);
--> statement-breakpoint
ALTER TABLE "meetings" ADD CONSTRAINT "meetings_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meetings" ADD CONSTRAINT "meetings_host_fk" FOREIGN KEY ("account_id","host_user_id") REFERENCES "public"."users"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participants" ADD CONSTRAINT "participants_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participants" ADD CONSTRAINT "participants_user_fk" FOREIGN KEY ("account_id","user_id") REFERENCES "public"."users"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "presence_intervals" ADD CONSTRAINT "presence_participant_fk" FOREIGN KEY ("account_id","participant_id") REFERENCES "public"."participants"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "presence_intervals" ADD CONSTRAINT "presence_meeting_fk" FOREIGN KEY ("account_id","meeting_id") REFERENCES "public"."meetings"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "meetings_host_idx" ON "meetings" USING btree ("account_id","host_user_id");--> statement-breakpoint
CREATE INDEX "meetings_scheduled_idx" ON "meetings" USING btree ("account_id","scheduled_start");--> statement-breakpoint
CREATE UNIQUE INDEX "participants_meeting_user_unique" ON "participants" USING btree ("account_id","meeting_id","user_id") WHERE "participants"."user_id" is not null;--> statement-breakpoint
CREATE INDEX "participants_meeting_idx" ON "participants" USING btree ("account_id","meeting_id");--> statement-breakpoint
CREATE INDEX "participants_user_idx" ON "participants" USING btree ("account_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "presence_one_open_unique" ON "presence_intervals" USING btree ("account_id","participant_id") WHERE "presence_intervals"."left_at" is null;--> statement-breakpoint
CREATE INDEX "presence_meeting_idx" ON "presence_intervals" USING btree ("account_id","meeting_id","joined_at");