-- Whether a participant holds an open stay, read with a snapshot of its own (a VOLATILE function
-- takes a fresh one for each query it runs). A user's join is one statement whose ON CONFLICT
-- ... WHERE PostgreSQL re-checks on the newest version of the participant row after waiting for
-- a concurrent admission or join; a subquery written in the statement itself would still see the
-- stays as they were when the statement started, and let a user wait while present. The open
-- stay is share-locked: a leave that is closing it is waited for, and the stay then counts as
-- closed, as it is once that leave commits.
CREATE FUNCTION participant_stay_open(p_account uuid, p_participant uuid) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM 1 FROM presence_intervals s WHERE s.account_id = p_account AND s.participant_id = p_participant AND s.left_at IS NULL FOR SHARE;
  RETURN FOUND;
END
$$;
