/* SPDX-License-Identifier: MIT */
/*
 * cmd_reply.c - `natsbridge reply`: a responder that answers every request
 * on a subject with a copy of its payloads (--echo) or with what a command
 * fed the request makes of it (--exec, reply_exec.c). Like natscli's `nats
 * reply`, it joins a queue group by default, so that repliers share requests.
 */
#include "reply_exec.h"

#include <stdlib.h>
#include <string.h>

static const char reply_usage[] =
    "Usage: natsbridge reply SUBJECT (--echo | --exec CMD) [OPTION]...\n"
    "Answers every request arriving on SUBJECT.\n\n"
    "  --echo                     answer with a copy of the request's payloads\n"
    "  --exec CMD                 run `/bin/sh -c CMD` per request: the request as one\n"
    "                             JSON line (the shape of `listen --json`) on its stdin,\n"
    "                             and in NB_SUBJECT, NB_MSG_ID, NB_CORRELATION_ID,\n"
    "                             NB_SENDER_NAME, NB_REPLY_TO and NB_TEXT_<DATANAME> (text\n"
    "                             payloads up to 64 KiB; DATANAME upper-cased, other bytes\n"
    "                             than A-Z 0-9 as _). Its stdout is the answer: plain text\n"
    "                             (text payload \"result\"; binary when not UTF-8), or an\n"
    "                             answer document {\"natsbridge_reply\":1,\"payloads\":[...]}\n"
    "                             (see natsbridge(1), REPLY --exec). A non-zero exit, a\n"
    "                             signal, a timeout, too much output or a bad document\n"
    "                             answer an error (msg_purpose \"error\", text payload\n"
    "                             \"error\" with the last 4 KiB of its stderr, metadata\n"
    "                             reason and exit_status): `request` exits 2 on it\n"
    "  --exec-timeout SECONDS     kill the command (its process group) after SECONDS\n"
    "                             and answer an error (default 30)\n"
    "  --exec-max-output BYTES    most stdout accepted, else an error (default 67108864)\n"
    "  --count N                  stop after answering N requests\n"
    "  --timeout SECONDS          overall time limit (exit 3); default: until interrupted\n"
    "  --queue GROUP              queue group to join (default " CLI_REPLY_QUEUE ", as\n"
    "                             natscli: repliers on SUBJECT share the requests)\n"
    "  --no-queue                 join no queue group: every replier answers every request\n"
    NATS_CONNECT_HELP
    "  --fileserver URL           file server for link payloads\n"
    "  --threshold BYTES          payloads this large or larger go by link\n"
    "  --sender-name NAME         sender_name of the replies\n"
    "  --allow-origin ORIGIN      also download links from ORIGIN (repeatable); an\n"
    "                             Object Store bucket is nats-os://BUCKET\n"
    "  --store nats-os://BUCKET   fetch nats-os:// links only from BUCKET (others need\n"
    "                             --allow-origin) and put reply links there\n"
    "  --fileserver-token TOKEN   bearer token for uploads to the file server (also\n"
    "                             $NB_FILESERVER_TOKEN)\n"
    "  --fileserver-token-file F  read that token from the first line of file F\n"
    "  --put                      upload by HTTP PUT instead of the Plik API\n"
    "  --sha256                   direct payloads carry metadata.sha256 too\n"
    "  --no-auto-link             refuse a reply over the server's max_payload instead\n"
    "                             of sending its largest payloads by link\n"
    DOWNLOAD_HELP
    LIMITS_HELP
    "  --quiet                    no informational messages on stderr\n"
    "  --help                     show this help\n"
    "Messages without reply_to are reported and not answered.\n"
    "Exit status: 0 done or interrupted (SIGINT, SIGTERM), 1 usage error,\n"
    "2 connection or runtime error, 3 timeout.\n"
    "Examples:\n"
    "  natsbridge reply /echo --echo\n"
    "  natsbridge reply /upper --exec 'printf %s \"$NB_TEXT_Q\" | tr a-z A-Z'\n"
    "  natsbridge reply /report --exec ./report.sh --exec-timeout 120 \\\n"
    "      --fileserver http://127.0.0.1:8080   # report.sh prints an answer document\n";

static const cli_flag reply_flags[] = {
    CLI_FLAGS_COMMON,           CLI_FLAGS_SENDER,         {"echo", F_ECHO, false},
    {"exec", F_EXEC, true},     {"count", F_COUNT, true}, {"timeout", F_TIMEOUT, true},
    {"queue", F_QUEUE, true},
    {"store", F_STORE, true}, /* links in, and reply links out, of that bucket */
    CLI_FLAGS_LIMITS,
    /* issue 13, clireply */
    {"no-queue", F_NO_QUEUE, false}, {"exec-timeout", F_EXEC_TIMEOUT, true},
    {"exec-max-output", F_EXEC_MAX_OUTPUT, true}, CLI_FLAGS_END};

/* ---- --echo -------------------------------------------------------------- */

static nb_status copy_payload(const nb_payload *p, nb_payload **out)
{
    size_t len = 0;
    const uint8_t *data = nb_payload_data(p, &len);
    const char *path = nb_payload_path(p);
    const char *name = nb_payload_dataname(p);
    nb_status s = !data && path
                      ? nb_payload_create_file(out, name, nb_payload_type(p), path)
                      : nb_payload_create(out, name, nb_payload_type(p), data ? data : (const uint8_t *)"", len);
    if (!s)
        s = nb_payload_set_metadata(*out, nb_payload_metadata(p));
    if (s) {
        nb_payload_destroy(*out);
        *out = NULL;
    }
    return s;
}

static int echo_reply(const nb_envelope *req, nb_envelope **out)
{
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create(&e);
    for (size_t i = 0; !s && i < nb_envelope_payload_count(req); i++) {
        nb_payload *p = NULL;
        s = copy_payload(nb_envelope_payload(req, i), &p);
        if (!s)
            s = nb_envelope_add_payload(e, &p);
        nb_payload_destroy(p);
    }
    if (s) {
        nb_envelope_destroy(e);
        return cli_fail(CLI_RUNTIME, s, "--echo");
    }
    *out = e;
    return CLI_OK;
}

/* ---- the responder ------------------------------------------------------- */

/*
 * The command's answer could not be sent (a file gone, the file server down): the
 * requester gets an error reply saying so rather than waiting for its timeout. NB_OK
 * when that went out (the failure reported here), else the status to report.
 */
static nb_status send_error(nb_client *c, const nb_envelope *req, nb_status failed)
{
    char msg[600];
    snprintf(msg, sizeof msg, "the command's answer could not be sent: %s", nb_last_error());
    cli_fail(0, failed, "--exec: the answer");
    nb_envelope *err = NULL;
    if (cli_error_reply("send", -1, msg, &err) != CLI_OK)
        return failed;
    nb_status s = nb_client_reply(c, req, err);
    nb_envelope_destroy(err);
    return s;
}

static int answer(nb_client *c, nb_envelope *req, const cli_args *a, void *ctx)
{
    (void)ctx;
    int counted = 0;
    const char *id = nb_envelope_msg_id(req);
    if (!*nb_envelope_reply_to(req)) {
        cli_error("message %s has no reply_to: not answered", id);
    } else {
        nb_envelope *rep = NULL;
        int rc = a->echo ? echo_reply(req, &rep) : cli_exec_reply(a, req, &rep);
        nb_status s = rc == CLI_OK ? nb_client_reply(c, req, rep) : NB_OK;
        if (rc == CLI_OK && s && a->exec)
            s = send_error(c, req, s);
        if (rc == CLI_OK && s)
            cli_fail(0, s, NULL);
        else if (rc == CLI_OK) {
            counted = 1;
            cli_note("answered %s", id);
        }
        nb_envelope_destroy(rep);
    }
    nb_envelope_destroy(req);
    return counted;
}

int cmd_reply(int argc, char **argv)
{
    cli_args a;
    nb_client *c = NULL;
    int rc = cli_parse(argc, argv, reply_flags, reply_usage, &a);
    if (rc == CLI_CONTINUE && a.echo == (a.exec != NULL)) {
        cli_error("give one of --echo or --exec CMD (see natsbridge reply --help)");
        rc = CLI_USAGE;
    } else if (rc == CLI_CONTINUE && a.no_queue && a.queue) {
        cli_error("give --queue GROUP or --no-queue, not both");
        rc = CLI_USAGE;
    } else if (rc == CLI_CONTINUE && a.echo && (a.exec_timeout_ms || a.exec_max_output)) {
        cli_error("--exec-timeout and --exec-max-output go with --exec, not --echo");
        rc = CLI_USAGE;
    }
    if (rc == CLI_CONTINUE && !a.queue && !a.no_queue)
        a.queue = CLI_REPLY_QUEUE; /* natscli's default: repliers share the requests */
    if (rc == CLI_CONTINUE) {
        /* A command that exits without reading its input must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        cli_catch_signals();
        rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = cli_receive_loop(c, &a, answer, NULL);
    }
    cli_close(c);
    cli_args_free(&a);
    return rc;
}
