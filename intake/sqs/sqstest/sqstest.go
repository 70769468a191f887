// Package sqstest starts a real SQS-compatible server for tests: moto's
// server mode (`moto_server`, Python's moto, which speaks the JSON protocol
// of today's AWS SDK). Without it tests skip, unless CI is set.
package sqstest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Server is a running moto server.
type Server struct {
	Endpoint string
	Client   *awssqs.Client
}

// Start runs moto_server on a free loopback port until the test ends, and
// sets the AWS credentials the SDK's default chain reads (any will do).
func Start(t *testing.T) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("moto_server (Python's moto, the SQS-compatible test server) is not installed and CI is set")
		}
		t.Skip("moto_server is not installed: skipping the SQS tests")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	port := freePort(t)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s: %v", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for a process to listen, not making time pass
	}
	client := awssqs.New(awssqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	return &Server{Endpoint: endpoint, Client: client}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// CreateQueue makes a queue with the given visibility timeout and, when
// dlq is set, a redrive policy to a dead-letter queue of that name; it
// returns the queue's URL and the dead-letter queue's ("" without one).
func (s *Server) CreateQueue(t *testing.T, name string, visibility time.Duration, dlq string) (string, string) {
	t.Helper()
	ctx := context.Background()
	attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second))}
	var dlqURL string
	if dlq != "" {
		d, err := s.Client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(dlq)})
		if err != nil {
			t.Fatal(err)
		}
		dlqURL = aws.ToString(d.QueueUrl)
		a, err := s.Client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: d.QueueUrl,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		attrs["RedrivePolicy"] = `{"maxReceiveCount":"5","deadLetterTargetArn":"` + a.Attributes["QueueArn"] + `"}`
	}
	q, err := s.Client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl), dlqURL
}

// Send publishes body on the queue.
func (s *Server) Send(t *testing.T, queueURL, body string) {
	t.Helper()
	if _, err := s.Client.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// Count returns how many messages the queue holds, visible or in flight.
func (s *Server) Count(t *testing.T, queueURL string) int {
	t.Helper()
	a, err := s.Client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(a.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	m, _ := strconv.Atoi(a.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return n + m
}

// Receive takes up to 10 messages from the queue (with their attributes).
func (s *Server) Receive(t *testing.T, queueURL string) []types.Message {
	t.Helper()
	out, err := s.Client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
		MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}
