/* SPDX-License-Identifier: MIT */
/*
 * struct_layout.c - prints the size and every member offset of the public structs the
 * Python binding mirrors with ctypes (bindings/python/natsbridge/_lib.py), one line each:
 * "NAME SIZE member=OFFSET ...". struct_layout.py (CTest python.struct_layout) compares
 * ctypes: a member added to a struct in include/natsbridge.h and not to the binding fails.
 */
#include "natsbridge.h"

#include <stddef.h>
#include <stdio.h>

#define BEGIN(T) printf("%s %zu", #T, sizeof(T))
#define FIELD(T, m) printf(" %s=%zu", #m, offsetof(T, m))
#define END() putchar('\n')

int main(void)
{
    BEGIN(nb_fileserver_auth);
    FIELD(nb_fileserver_auth, ca_file);
    FIELD(nb_fileserver_auth, cert_file);
    FIELD(nb_fileserver_auth, key_file);
    FIELD(nb_fileserver_auth, token);
    END();
    BEGIN(nb_upload_request);
    FIELD(nb_upload_request, fileserver_url);
    FIELD(nb_upload_request, dataname);
    FIELD(nb_upload_request, data);
    FIELD(nb_upload_request, path);
    FIELD(nb_upload_request, size);
    FIELD(nb_upload_request, sha256_hex);
    FIELD(nb_upload_request, progress);
    FIELD(nb_upload_request, progress_closure);
    FIELD(nb_upload_request, auth);
    FIELD(nb_upload_request, read);
    FIELD(nb_upload_request, read_ctx);
    END();
    BEGIN(nb_upload_result);
    FIELD(nb_upload_result, status);
    FIELD(nb_upload_result, uploadid);
    FIELD(nb_upload_result, fileid);
    FIELD(nb_upload_result, url);
    END();
    BEGIN(nb_download_request);
    FIELD(nb_download_request, url);
    FIELD(nb_download_request, max_retries);
    FIELD(nb_download_request, base_delay_ms);
    FIELD(nb_download_request, max_delay_ms);
    FIELD(nb_download_request, deadline_ms);
    FIELD(nb_download_request, correlation_id);
    FIELD(nb_download_request, max_bytes);
    FIELD(nb_download_request, path);
    FIELD(nb_download_request, dataname);
    FIELD(nb_download_request, progress);
    FIELD(nb_download_request, progress_closure);
    FIELD(nb_download_request, auth);
    FIELD(nb_download_request, idle_timeout_ms);
    FIELD(nb_download_request, retry_budget_ms);
    FIELD(nb_download_request, stop);
    FIELD(nb_download_request, sha256_hex);
    FIELD(nb_download_request, sha256_out);
    END();
    BEGIN(nb_item);
    FIELD(nb_item, dataname);
    FIELD(nb_item, data);
    FIELD(nb_item, len);
    FIELD(nb_item, type);
    END();
    BEGIN(nb_send_fields);
    FIELD(nb_send_fields, correlation_id);
    FIELD(nb_send_fields, msg_id);
    FIELD(nb_send_fields, msg_purpose);
    FIELD(nb_send_fields, receiver_name);
    FIELD(nb_send_fields, receiver_id);
    FIELD(nb_send_fields, reply_to);
    FIELD(nb_send_fields, reply_to_msg_id);
    FIELD(nb_send_fields, metadata_json);
    END();
    BEGIN(nb_js_stream_config);
    FIELD(nb_js_stream_config, name);
    FIELD(nb_js_stream_config, subjects);
    FIELD(nb_js_stream_config, subject_count);
    FIELD(nb_js_stream_config, storage);
    FIELD(nb_js_stream_config, replicas);
    FIELD(nb_js_stream_config, max_age_ms);
    FIELD(nb_js_stream_config, duplicate_window_ms);
    END();
    BEGIN(nb_js_stream_info);
    FIELD(nb_js_stream_info, config);
    FIELD(nb_js_stream_info, messages);
    FIELD(nb_js_stream_info, bytes);
    FIELD(nb_js_stream_info, first_seq);
    FIELD(nb_js_stream_info, last_seq);
    FIELD(nb_js_stream_info, consumers);
    FIELD(nb_js_stream_info, max_msgs);
    FIELD(nb_js_stream_info, max_bytes);
    END();
    BEGIN(nb_js_ack);
    FIELD(nb_js_ack, stream);
    FIELD(nb_js_ack, sequence);
    FIELD(nb_js_ack, duplicate);
    END();
    BEGIN(nb_js_publish_options);
    FIELD(nb_js_publish_options, timeout_ms);
    FIELD(nb_js_publish_options, retries);
    FIELD(nb_js_publish_options, retry_delay_ms);
    FIELD(nb_js_publish_options, expect_stream);
    END();
    BEGIN(nb_js_consumer_config);
    FIELD(nb_js_consumer_config, stream);
    FIELD(nb_js_consumer_config, subject);
    FIELD(nb_js_consumer_config, durable);
    FIELD(nb_js_consumer_config, batch);
    FIELD(nb_js_consumer_config, ack_wait_ms);
    FIELD(nb_js_consumer_config, max_deliver);
    FIELD(nb_js_consumer_config, start);
    FIELD(nb_js_consumer_config, start_sequence);
    FIELD(nb_js_consumer_config, start_time_ms);
    FIELD(nb_js_consumer_config, nak_delay_ms);
    FIELD(nb_js_consumer_config, max_nak_delay_ms);
    FIELD(nb_js_consumer_config, not_found_deliveries);
    FIELD(nb_js_consumer_config, inactive_threshold_ms);
    END();
    BEGIN(nb_js_delivery);
    FIELD(nb_js_delivery, stream);
    FIELD(nb_js_delivery, consumer);
    FIELD(nb_js_delivery, subject);
    FIELD(nb_js_delivery, stream_seq);
    FIELD(nb_js_delivery, consumer_seq);
    FIELD(nb_js_delivery, delivered);
    FIELD(nb_js_delivery, pending);
    FIELD(nb_js_delivery, timestamp_ms);
    END();
    BEGIN(nb_objstore_config);
    FIELD(nb_objstore_config, bucket);
    FIELD(nb_objstore_config, description);
    FIELD(nb_objstore_config, ttl_ms);
    FIELD(nb_objstore_config, memory_storage);
    FIELD(nb_objstore_config, replicas);
    FIELD(nb_objstore_config, max_bytes);
    END();
    BEGIN(nb_object_info);
    FIELD(nb_object_info, name);
    FIELD(nb_object_info, bucket);
    FIELD(nb_object_info, nuid);
    FIELD(nb_object_info, digest);
    FIELD(nb_object_info, size);
    FIELD(nb_object_info, chunks);
    FIELD(nb_object_info, mtime_ns);
    END();
    BEGIN(nb_py_payload_view);
    FIELD(nb_py_payload_view, dataname);
    FIELD(nb_py_payload_view, data);
    FIELD(nb_py_payload_view, len);
    FIELD(nb_py_payload_view, path);
    FIELD(nb_py_payload_view, url);
    FIELD(nb_py_payload_view, type);
    END();
    BEGIN(nb_py_delivery);
    FIELD(nb_py_delivery, env);
    FIELD(nb_py_delivery, status);
    FIELD(nb_py_delivery, message);
    END();
    return 0;
}
