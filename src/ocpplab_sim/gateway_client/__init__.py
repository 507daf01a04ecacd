"""gateway_client"""
