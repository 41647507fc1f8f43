FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crypto crypto
COPY evaluation evaluation
COPY signaling signaling
COPY web web
RUN pip install --no-cache-dir .
ENV PINGBIAO_DATA_DIR=/data PINGBIAO_HOST=0.0.0.0 PINGBIAO_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
CMD ["pingbiao", "serve"]
