-- Where the database has Better Auth 1.7's `team.member_count`, it is the team's member count.
SELECT 'team_member_count' AS invariant, t.id AS detail
FROM team t
WHERE t.member_count <> (SELECT count(*) FROM team_member tm WHERE tm.team_id = t.id);
