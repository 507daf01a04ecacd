"""ocpi_client"""
